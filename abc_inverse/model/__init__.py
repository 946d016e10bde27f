"""The model layer: scene parameters θ, their prior and standard-normal reparameterisation, angle units and limits
(:mod:`abc_inverse.model.scene`), and the morphable face model (:mod:`abc_inverse.model.morphable`, rebuilt by
:mod:`abc_inverse.model.build_model`). Imports nothing else of ours."""
