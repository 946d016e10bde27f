"""abc-inverse: likelihood-free inverse graphics of faces (DC-IGN summary statistics + elliptical ABC-MCMC)."""

__version__ = "0.1.0"
