"""Decoders for wire formats the readers meet: protobuf, flatbuffers, pickle opcodes."""
