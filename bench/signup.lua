-- wrk script for bench/signup.py: POST JSON signups, a unique address per request.
-- usage: wrk ... -s bench/signup.lua URL -- RUN_TAG [NEWSLETTER ORIGIN]
local counter = 0
local threads = {}
local tag = "0"
local newsletter = "daily"

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  tag = args[1] or tostring(os.time())
  newsletter = args[2] or newsletter
  if args[3] then wrk.headers["Origin"] = args[3] end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"email": "bench-%s-%d-%d@kyivindependent.com", "newsletters": ["%s"]}',
    tag, tid, counter, newsletter)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local s = summary.errors
  io.write(string.format(
    "RESULT %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    s.status, s.connect + s.read + s.write, s.timeout))
end
