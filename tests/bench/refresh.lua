-- Each request posts the next unused pre-minted refresh token; threads take disjoint slices.
local counter = 1
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   tokens = {}
   for line in io.lines(os.getenv("TOKENS_FILE")) do
      tokens[#tokens + 1] = line
   end
   stride = tonumber(os.getenv("WRK_THREADS"))
   counter = id + 1
end

function request()
   local token = tokens[counter]
   counter = counter + stride
   if token == nil then
      token = "exhausted"
   end
   return wrk.format("POST", "/auth/jwt/refresh/", {["Content-Type"] = "application/json"},
      '{"refresh":"' .. token .. '"}')
end
