"""Training of the small transformer classifiers shipped as examples.

`examples/train_safety_classifier.py` and `examples/train_intent_classifier.py` call `run_example`; the
export step (`modelops.export`) rebuilds the model from the checkpoint written here.
"""
