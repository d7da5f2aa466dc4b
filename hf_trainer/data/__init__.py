"""From UnSmile's TSVs (or the Hub) to the splits a training run reads: the label schema, reading and
validating the files, AEDA, the canonical form, spelling-game copies and the data arguments."""
