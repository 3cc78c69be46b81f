"""Thin hardware and library layers: the TFLite interpreter library, the Edge TPU delegate, file vetting."""
