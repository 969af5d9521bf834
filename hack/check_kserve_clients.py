"""KServe's Python clients (InferenceRESTClient v2, InferenceGRPCClient) against a running modelops-server.

Not part of `make test`: the `kserve` package pins protobuf/grpcio-tools/kubernetes versions that differ
from the project's, so it runs from its own virtual environment:

    python3 -m venv /tmp/kserve-venv && /tmp/kserve-venv/bin/pip install kserve
    modelops-server serve --models-dir models --model-type safety_classifier --port 8080 --grpc-port 8081 &
    /tmp/kserve-venv/bin/python hack/check_kserve_clients.py 127.0.0.1:8080 127.0.0.1:8081 safety_classifier

Prints one line per client x protocol x binary setting and exits non-zero if any differs from the seed
predict endpoint's labels.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request

import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig

TEXTS = ["I want to hurt myself", "thanks for the help today"]


def seed_labels(http: str, model: str) -> list[str]:
    body = json.dumps({"texts": TEXTS}).encode()
    request = urllib.request.Request(f"http://{http}/api/v1/ml-models/{model}/predict", body,
                                     {"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        return [p["label"] for p in json.load(answer)["predictions"]]


def request(model: str, binary: bool) -> InferRequest:
    text = InferInput("text", [len(TEXTS)], "BYTES")
    text.set_data_from_numpy(np.array([t.encode() for t in TEXTS], dtype=np.object_), binary_data=binary)
    return InferRequest(model_name=model, infer_inputs=[text], request_id="kserve")


def labels_of(response: object) -> list[str]:
    output = next(o for o in response.outputs if o.name == "label")  # type: ignore[attr-defined]
    return [v.decode() if isinstance(v, bytes) else str(v) for v in output.as_numpy().ravel()]


async def main(http: str, grpc_target: str, model: str) -> int:
    expected, failures = seed_labels(http, model), 0
    rest = InferenceRESTClient(RESTConfig(protocol="v2"))
    for binary in (False, True):
        try:
            got = labels_of(await rest.infer(f"http://{http}", request(model, binary), model_name=model))
            ok = got == expected
        except Exception as error:  # report every client failure, keep checking the others
            got, ok = [repr(error)[:200]], False
        print(f"kserve InferenceRESTClient v2 binary_data={binary}: {'ok' if ok else 'FAIL'} {got}")
        failures += not ok
    await rest.close()
    grpc_client = InferenceGRPCClient(grpc_target)
    try:
        got = labels_of(await grpc_client.infer(request(model, False)))
        ok = got == expected
    except Exception as error:
        got, ok = [repr(error)[:200]], False
    print(f"kserve InferenceGRPCClient: {'ok' if ok else 'FAIL'} {got}")
    await grpc_client.close()
    return failures + (not ok)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
