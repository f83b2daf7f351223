"""Pure encoders and decoders over bytes: record batches, index entries, checkpoints, file names."""
