"""The hostile-input corpus: packages, .emd texts and inputs built to attack dlpk, each
with its expected outcome."""
