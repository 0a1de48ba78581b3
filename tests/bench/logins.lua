-- Logins spread over $USERS accounts (bench0 … benchN-1) with the password in $PASSWORD, so a
-- flood comes from many accounts, as a real one does (one account alone is held to
-- hash_queue_per_account hashes at a time and would mostly get 429).
local counter = 0
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   users = tonumber(os.getenv("USERS"))
   password = os.getenv("PASSWORD")
   counter = id
end

function request()
   counter = counter + 1
   local body = '{"username":"bench' .. (counter % users) .. '","password":"' .. password .. '"}'
   return wrk.format("POST", "/auth/jwt/create/", {["Content-Type"] = "application/json"}, body)
end
