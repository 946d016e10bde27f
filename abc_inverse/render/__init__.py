"""The render layer: the simulator g(θ), the only path from scene parameters to pixels
(:mod:`abc_inverse.render.simulator`), with its Numba rasteriser (:mod:`abc_inverse.render.raster`) and the pyrender
reference backend (:mod:`abc_inverse.render.pyrender_backend`). Builds on :mod:`abc_inverse.model`."""
