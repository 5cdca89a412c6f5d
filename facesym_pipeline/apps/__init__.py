"""Entry points for people: the `facesym` command line and its terminal renderings."""
