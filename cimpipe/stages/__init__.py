"""The workflow's stages as plain functions of paths and config slices, one module per stage.

Each rule's script (``workflow/scripts/*.py``) unpacks the Snakemake object and calls one function of one
module here through :func:`cimpipe.stages.run.run_stage`. A module imports only what its stage runs: the
rule's code digest is the import closure of its script (:mod:`cimpipe.imports`), so a change to a module
reruns exactly the stages that reach it. This file imports nothing for the same reason.
"""
