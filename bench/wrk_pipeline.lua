-- bench/wrk_pipeline.lua — wrk script: HTTP/1.1 pipelining. Each write
-- carries PIPELINE_DEPTH (default 16) copies of the request; wrk counts
-- every answer. Ends with wrk_report.lua's one result line.
local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")
local batch

init = function(args)
  local copies = {}
  for i = 1, depth do
    copies[i] = wrk.format(nil)
  end
  batch = table.concat(copies)
end

request = function()
  return batch
end

-- The result line: the same done() as every other run.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") ..
  "wrk_report.lua")
