/* placeholder: the lab page is being written */
