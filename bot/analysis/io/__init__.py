"""Byte windows onto files and members, and the guarded HDF5 reader."""
