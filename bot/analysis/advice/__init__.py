"""The reload advisor: what each Keras does with the file, and the snippet that works."""
