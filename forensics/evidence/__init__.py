"""Evidence layer: images, partitions, file systems, allocation, evidence addresses."""
