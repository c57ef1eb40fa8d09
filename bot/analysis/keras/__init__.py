"""Keras files: the .keras archive and folder, v3 .weights.h5, legacy HDF5, model configs."""
