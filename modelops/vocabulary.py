"""The words of the modelops API, in one place: group and version, object kinds, labels and annotations,
condition types and every reason, failure cause, Event reason and phase the operator writes.

The operator (`modelops_operator.conditions` re-exports the condition words), `modelctl`, the Kubernetes
registry backend and the checklist all import them from here, so a rename cannot silently break one of
them; the README's condition table and the Argo CD health check are tested against them.
"""

from __future__ import annotations

GROUP = "modelops.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
GROUP_PATH = f"/apis/{API_VERSION}"
MODEL_DEPLOYMENTS = "modeldeployments"
MODEL_VERSIONS = "modelversions"

# Labels and annotations
MODEL_LABEL = f"{GROUP}/model"
VERSION_LABEL = f"{GROUP}/version"
ENVIRONMENT_LABEL = f"{GROUP}/environment"
IN_USE_LABEL = f"{GROUP}/in-use"
RETRY_ANNOTATION = f"{GROUP}/retry"
# The header the operator presents the metrics token in (the platform's `metricsAuth`): through the
# apiserver's pod proxy `Authorization` carries the operator's own credential and never reaches the pod.
METRICS_TOKEN_HEADER = "X-Modelops-Metrics-Token"
PROMOTE_ANNOTATION = f"{GROUP}/promote"  # a canary: end the current step now (a manual pause: go on)
ABORT_ANNOTATION = f"{GROUP}/abort"  # a canary: abort it through the rollback path

# Condition types
AVAILABLE = "Available"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
READY = "Ready"

# Available
REASON_SERVING = "Serving"
REASON_NO_PODS_READY = "NoPodsReady"
REASON_SCALED_TO_ZERO = "ScaledToZero"
# Progressing
REASON_ROLLING_OUT = "RollingOut"
REASON_ANALYZING = "Analyzing"
REASON_ROLLOUT_COMPLETE = "RolloutComplete"
REASON_ROLLOUT_STOPPED = "RolloutStopped"
REASON_PAUSED = "Paused"
# Degraded
REASON_HEALTHY = "AsExpected"
REASON_MODEL_VERSION_NOT_FOUND = "ModelVersionNotFound"
REASON_MODEL_VERSION_INVALID = "ModelVersionInvalid"
REASON_INVALID_SPEC = "InvalidSpec"
REASON_ROLLOUT_FAILED = "RolloutFailed"
REASON_ROLLED_BACK = "RolledBack"
REASON_FAILED_VERSION_REQUESTED = "FailedVersionRequested"
REASON_ROLLBACK_HELD = "RollbackHeld"
REASON_ANALYSIS_INCONCLUSIVE = "AnalysisInconclusive"
REASON_RECONCILE_ERROR = "ReconcileError"
REASON_PROMOTION_BLOCKED = "PromotionBlocked"
REASON_POLICY_VIOLATION = "PolicyViolation"
# Failure causes recorded in status.failedVersions[].cause
CAUSE_PROGRESS_DEADLINE = "ProgressDeadlineExceeded"
CAUSE_READINESS_TIMEOUT = "ReadinessTimeout"
CAUSE_CRASH_LOOP = "CrashLoop"
CAUSE_ANALYSIS_FAILED = "AnalysisFailed"
CAUSE_ABORTED = "Aborted"
CAUSE_VERIFICATION_FAILED = "VerificationFailed"  # every new pod rejected the artifact (fail-fast)
# Event reasons
EVENT_DEPLOYING = "Deploying"
EVENT_DEPLOYED = "Deployed"
EVENT_PROMOTED = "Promoted"
EVENT_ROLLOUT_FAILED = "RolloutFailed"
EVENT_ROLLED_BACK = "RolledBack"
EVENT_HELD = "RollbackHeld"
EVENT_FAILED_VERSION_REQUESTED = "FailedVersionRequested"
EVENT_RETRY_REQUESTED = "RetryRequested"
EVENT_MODEL_VERSION_MISSING = "ModelVersionNotFound"
EVENT_PROMOTION_BLOCKED = "PromotionBlocked"
EVENT_GATES_OPEN = "PromotionGatesOpen"
EVENT_GATES_OVERRIDDEN = "PromotionGatesOverridden"
EVENT_CANARY_STEP = "CanaryStep"
EVENT_CANARY_PAUSED = "CanaryPaused"
EVENT_PROMOTE_REQUESTED = "PromoteRequested"
EVENT_ABORT_REQUESTED = "AbortRequested"
EVENT_SHADOW_STARTED = "ShadowStarted"
EVENT_SHADOW_PASSED = "ShadowPassed"
EVENT_SHADOW_REJECTED = "ShadowRejected"
# status.promotion.phase of a ModelDeployment
GATE_BLOCKED = "Blocked"
GATE_OPEN = "Open"
GATE_OVERRIDDEN = "Overridden"
# ModelVersion
REASON_REGISTERED = "Registered"
REASON_DEPLOYED = "Deployed"
# status.phase of a ModelDeployment (the `Status` column)
PHASE_PENDING = "Pending"
PHASE_PROGRESSING = "Progressing"
PHASE_ANALYZING = "Analyzing"
PHASE_AVAILABLE = "Available"
PHASE_DEGRADED = "Degraded"
PHASE_ROLLED_BACK = "RolledBack"
# status.canary.phase of a ModelDeployment
CANARY_PROGRESSING = "Progressing"
CANARY_PAUSED = "Paused"
CANARY_PROMOTING = "Promoting"
CANARY_PROMOTED = "Promoted"
CANARY_ABORTED = "Aborted"
CANARY_REFUSED = "Refused"
# status.analysis.phase of a ModelDeployment
ANALYSIS_PENDING = "Pending"
ANALYSIS_RUNNING = "Running"
ANALYSIS_PASSED = "Passed"
ANALYSIS_FAILED = "Failed"
ANALYSIS_INCONCLUSIVE = "Inconclusive"
# The verdicts of promotion and analysis; `spec.rollback.analysis.inconclusive` is Promote, Hold or Rollback
VERDICT_PROMOTE = "Promote"
VERDICT_WAIT = "Wait"
VERDICT_FAIL = "Fail"
VERDICT_HOLD = "Hold"
INCONCLUSIVE_ROLLBACK = "Rollback"
# status.phase of a ModelVersion
MV_PHASE_REGISTERED = "Registered"
MV_PHASE_DEPLOYED = "Deployed"
MV_PHASE_INVALID = "Invalid"
# The Deployment controller's own words the operator reads
DEPLOYMENT_PROGRESSING = "Progressing"
DEPLOYMENT_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
# spec.rollout.strategy
STRATEGY_ROLLING_UPDATE = "RollingUpdate"
STRATEGY_CANARY = "Canary"
STRATEGY_SHADOW = "Shadow"
# status.shadow.phase of a ModelDeployment
SHADOW_STARTING = "Starting"
SHADOW_MIRRORING = "Mirroring"
SHADOW_HELD = "Held"
SHADOW_PASSED = "Passed"
SHADOW_REJECTED = "Rejected"
SHADOW_STOPPED = "Stopped"
