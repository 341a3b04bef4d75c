"""Sweeps on batch systems: HTCondor submit descriptions, Slurm array jobs, point status."""
