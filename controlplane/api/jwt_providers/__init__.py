"""JWT providers: who issues the tokens callers present, and where their keys are."""
