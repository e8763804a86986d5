"""The shared kernel: the small vocabulary every package may import (Kendra's typed errors, paging
tokens, operation handlers, language detection). It imports no other package of the product."""
