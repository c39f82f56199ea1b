"""Faces in a photo: detection with five landmarks, alignment to the FFHQ template, and paste-back. Image maths
over numpy; may import only ``errors`` and ``paths`` of the core (the detectors' weight files)."""
