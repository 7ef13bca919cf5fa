-- wrk script for bench/run: one lead per request, each with its own email so
-- that neither the relay's idempotency fingerprint nor the simulator's
-- duplicate check matches, and one summary line for bench/run to parse.
--
-- Arguments after `--`:
--   post NONCE TOKEN          POST the JSON lead to the URL given to wrk
--   clients NONCE TOKEN       the same, each lead from its own client address (X-Forwarded-For)
--   get NONCE PREFIX SUFFIX   GET PREFIX .. encoded email .. SUFFIX (put_contact)

local mode, nonce, token, prefix, suffix = "post", "0", "", "", ""
local counter = 0
local threads = {}

-- A lead as a landing-page form posts it: name, email, phone, address and two extras.
local body_format = '{"first_name":"Mateo","last_name":"Gutiérrez","email":"%s",'
  .. '"phone":"(949) 555-0181","address1":"12 Fixture St","city":"Santa Ana",'
  .. '"state":"California","zip":"92701","interest":"solar and battery",'
  .. '"timeframe":"within 3 months"}'

local headers = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("bench_thread", #threads)
end

function init(args)
  mode = args[1] or "post"
  nonce = args[2] or "0"
  if mode == "post" or mode == "clients" then
    token = args[3] or ""
    headers["Content-Type"] = "application/json"
    headers["Authorization"] = "Bearer " .. token
  else
    prefix = args[3] or ""
    suffix = args[4] or ""
  end
  bench_counts = {}
end

local function next_email()
  counter = counter + 1
  return string.format("lead.%s.%d.%d@example.com", nonce, bench_thread, counter)
end

function request()
  if mode == "get" then
    local encoded = string.gsub(next_email(), "@", "%%40")
    return wrk.format("GET", prefix .. encoded .. suffix)
  end
  local email = next_email()
  if mode == "clients" then
    -- next_email advanced the counter, so each lead gets its thread's next address in 10.0.0.0/8.
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", bench_thread % 256, math.floor(counter / 256) % 256, counter % 256)
  end
  return wrk.format("POST", nil, headers, string.format(body_format, email))
end

function response(status, _headers, _body)
  local key = tostring(status)
  bench_counts[key] = (bench_counts[key] or 0) + 1
end

function done(summary, latency, _requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("bench_counts") or {}
    for status, count in pairs(counts) do
      merged[status] = (merged[status] or 0) + count
    end
  end

  local statuses = {}
  for status, count in pairs(merged) do
    table.insert(statuses, string.format('"%s":%d', status, count))
  end

  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"statuses":{%s},'
      .. '"latency_us":{"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f,"mean":%.1f}}\n',
    summary.requests, summary.duration,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    table.concat(statuses, ","),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean
  ))
end
