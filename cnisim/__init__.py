"""cnisim: capacity planner and IPAM simulator for the Amazon VPC CNI on EKS."""

__version__ = "0.1.0"
