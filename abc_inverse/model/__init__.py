"""The model layer: scene parameters θ, their prior and standard-normal reparameterisation, angle units and limits
(:mod:`abc_inverse.model.scene`), and the morphable face model (:mod:`abc_inverse.model.morphable`, rebuilt by
:mod:`abc_inverse.model.build_model`), with what renders of it may add: painted facial features
(:mod:`abc_inverse.model.features`), the MediaPipe landmark correspondence and head pose
(:mod:`abc_inverse.model.landmarks`) and a dropped jaw (:mod:`abc_inverse.model.expression`). Imports nothing else of
ours."""
