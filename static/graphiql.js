<!-- placeholder: the GraphiQL page is being written -->
