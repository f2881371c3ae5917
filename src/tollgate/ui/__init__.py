"""The account page served at / (TOLLGATE_UI): plain HTML, CSS and one ES module."""
