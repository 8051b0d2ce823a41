"""ipamd, EC2 and subnet simulation."""
