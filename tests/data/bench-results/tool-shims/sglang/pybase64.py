# Stand-in for pybase64 (a faster base64): the standard library's functions (only the image dataset uses it).
from base64 import *  # noqa
