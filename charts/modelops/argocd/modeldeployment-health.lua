-- Argo CD health check for modelops.io/ModelDeployment (argocd-cm key
-- resource.customizations.health.modelops.io_ModelDeployment). Argo CD runs it with the object in `obj`.
-- Healthy: the operator saw the latest spec and the version is Available with nothing in progress.
-- Degraded: Degraded or Stalled is True (failed rollout, rollback held, missing ModelVersion).
-- Progressing: anything else (not yet observed, rolling out, analysing).
local hs = { status = "Progressing", message = "Waiting for the modelops operator to observe the ModelDeployment" }

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local status = obj.status
if status == nil then
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

for _, kind in ipairs({ "Degraded", "Stalled" }) do
  local c = condition(status, kind)
  if c ~= nil and c.status == "True" then
    hs.status = "Degraded"
    hs.message = describe(c, kind)
    return hs
  end
end

local available = condition(status, "Available")
local progressing = condition(status, "Progressing")
if progressing ~= nil and progressing.status == "True" then
  hs.message = describe(progressing, "Rolling out")
  return hs
end
if available ~= nil and available.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(available, "Serving " .. tostring(status.servingVersion))
  return hs
end
hs.message = describe(available, "Waiting for the model to become available")
return hs
