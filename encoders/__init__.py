"""Summary statistics: the DC-IGN encoder and its training."""
