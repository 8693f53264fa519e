"""`dlpk serve`: a model registry and a job REST API shaped like ArcGIS's raster analysis
services, a map page, and `dlpk.Client` to talk to it (docs/service.md)."""
