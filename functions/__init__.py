"""imfaas functions: one folder per deployable function."""
