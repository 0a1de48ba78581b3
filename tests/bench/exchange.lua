-- Each request exchanges the next unused pre-minted code (client_secret_basic, PKCE S256);
-- threads take disjoint slices.
local counter = 1
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   codes = {}
   for line in io.lines(os.getenv("CODES_FILE")) do
      codes[#codes + 1] = line
   end
   stride = tonumber(os.getenv("WRK_THREADS"))
   counter = id + 1
   headers = {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Authorization"] = os.getenv("BASIC"),
   }
   rest = "&redirect_uri=" .. os.getenv("REDIRECT_URI") .. "&code_verifier=" .. os.getenv("VERIFIER")
end

function request()
   local code = codes[counter]
   counter = counter + stride
   if code == nil then
      code = "exhausted"
   end
   return wrk.format("POST", "/oauth/token", headers, "grant_type=authorization_code&code=" .. code .. rest)
end
