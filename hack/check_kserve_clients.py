"""KServe's Python clients (InferenceRESTClient v2, InferenceGRPCClient) against a running modelops-server.

Run by tests/unit/server/test_kserve_clients.py (so by `make test-unit`) and by hand. The `kserve` package
pins protobuf/grpcio-tools/kubernetes versions that differ from the project's, so it runs from its own
virtual environment, which `make kserve-clients` builds from hack/kserve-clients.txt:

    make kserve-clients
    modelops-server serve --models-dir models --model-type safety_classifier --port 8080 --grpc-port 8081 &
    ~/.cache/modelops/kserve-clients-$(sha256sum < hack/kserve-clients.txt | cut -c1-16)/bin/python \\
        hack/check_kserve_clients.py 127.0.0.1:8080 127.0.0.1:8081 safety_classifier

Prints one JSON line per client x binary setting (REST: the binary tensor extension for inputs and
outputs on or off; gRPC: typed `contents` or `raw_input_contents`) with the texts, labels and
probabilities it got, and exits with the number of results that differ from the seed predict endpoint's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig

TEXTS = ["I want to hurt myself", "thanks for the help today", "kill attack weapon"]
TOLERANCE = 1e-5
Results = tuple[list[str], list[list[float]]]  # labels, probabilities per text


def seed_results(http: str, model: str) -> Results:
    body = json.dumps({"texts": TEXTS}).encode()
    request = urllib.request.Request(f"http://{http}/api/v1/ml-models/{model}/predict", body,
                                     {"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        predictions = json.load(answer)["predictions"]
    scores = [[p["scores"]["safe"], p["scores"]["risk"]] for p in predictions]
    return [p["label"] for p in predictions], scores


def request(model: str, binary: bool) -> InferRequest:
    text = InferInput("text", [len(TEXTS)], "BYTES")
    text.set_data_from_numpy(np.array([t.encode() for t in TEXTS], dtype=np.object_), binary_data=binary)
    parameters = {"binary_data_output": True} if binary else None  # binary tensors both ways
    return InferRequest(model_name=model, infer_inputs=[text], request_id="kserve", parameters=parameters)


def results_of(response: Any) -> Results:
    outputs = {o.name: o.as_numpy() for o in response.outputs}
    labels = [v.decode() if isinstance(v, bytes) else str(v) for v in outputs["label"].ravel()]
    return labels, np.asarray(outputs["probabilities"], dtype=float).reshape(len(TEXTS), -1).tolist()


async def check(client: str, binary: bool, infer: Callable[[], Awaitable[Any]], expected: Results) -> bool:
    """Print one JSON line for this client's answer; True when it equals the seed predict endpoint's."""
    line: dict[str, Any] = {"client": client, "binary_data": binary, "texts": TEXTS}
    try:
        line["labels"], line["probabilities"] = results_of(await infer())
        line["ok"] = line["labels"] == expected[0] and bool(
            np.allclose(line["probabilities"], expected[1], atol=TOLERANCE)
        )
    except Exception as error:  # report every client failure, keep checking the others
        line["error"], line["ok"] = repr(error)[:300], False
    print(json.dumps(line), flush=True)
    return bool(line["ok"])


async def main(http: str, grpc_target: str, model: str) -> int:
    expected, failures = seed_results(http, model), 0
    rest = InferenceRESTClient(RESTConfig(protocol="v2"))
    grpc_client = InferenceGRPCClient(grpc_target)
    for binary in (False, True):
        rest_infer = partial(rest.infer, f"http://{http}", request(model, binary), model_name=model)
        failures += not await check("InferenceRESTClient v2", binary, rest_infer, expected)
        grpc_infer = partial(grpc_client.infer, request(model, binary))
        failures += not await check("InferenceGRPCClient", binary, grpc_infer, expected)
    await rest.close()
    await grpc_client.close()
    return failures


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
