"""The AMI action handlers grouped by area; each module is a mixin class of AmiServer."""
