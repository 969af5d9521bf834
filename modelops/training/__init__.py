"""Training of the example classifiers.

`finetune` (+ `finetune_loop`): the examples users follow, `examples/train_safety_classifier.py` and
`examples/train_intent_classifier.py`, fine-tune all-MiniLM-L6-v2 into a save_pretrained directory.
`example` (+ `loop`, `model`, `checkpoint`): a toy 2-layer transformer trained from scratch in seconds,
run by tests that need the project's own `.pt` checkpoint (`tests/support/toy_train_*.py`); the export
step (`modelops.export`) rebuilds that model from the checkpoint written here.
"""
