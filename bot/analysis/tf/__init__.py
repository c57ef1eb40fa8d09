"""TensorFlow checkpoints (tensor bundles) and SavedModels."""
