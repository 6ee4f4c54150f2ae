from cimpipe.report import publish_front
from cimpipe.stages.run import run_stage

run_stage(snakemake.log[0], publish_front, source=snakemake.input.front, target=snakemake.output[0])
