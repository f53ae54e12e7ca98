"""The image modality: built-in image sets and user folders (`datasets`), the uint8 <-> tensor
codec (`codec`), PNG/grid/npz files (`files`), and the image family's stage verbs
(`prepare`, `train`, `generate`, `evaluate`), which `pipeline/families.py` maps to."""
