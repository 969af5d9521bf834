-- Argo CD health check for modelops.io/ModelVersion (argocd-cm key
-- resource.customizations.health.modelops.io_ModelVersion). Argo CD runs it with the object in `obj`.
-- Degraded: the operator found the version invalid (phase Invalid, Ready=False or Degraded=True).
-- Healthy: Ready=True, or phase Registered/Deployed. Progressing: not yet validated.
local hs = { status = "Progressing", message = "Waiting for the modelops operator to validate the ModelVersion" }

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
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local status = obj.status
if status == nil then
  return hs
end
local degraded = condition(status, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded, "Degraded")
  return hs
end
local ready = condition(status, "Ready")
if status.phase == "Invalid" then
  hs.status = "Degraded"
  hs.message = status.message or "Invalid"
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready, "Not ready")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Registered")
  return hs
end
if status.phase == "Registered" or status.phase == "Deployed" then
  hs.status = "Healthy"
  hs.message = status.message or status.phase
end
return hs
