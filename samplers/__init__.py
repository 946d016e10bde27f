"""ABC-MCMC: elliptical proposals, ABC kernels, chains and diagnostics."""
