"""The map page of `dlpk serve`: the HTML page and its bundled script, and the map's reads of a
job (layers, Web Mercator tiles of its rasters, its features as GeoJSON). The app includes
`router`."""

from dlpk.serve.page.routes import router

__all__ = ["router"]
