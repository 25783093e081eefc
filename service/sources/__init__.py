"""The pages that bring signups: per newsletter, UTC day and page of the site, the signups made
there and the confirmations of the readers who signed up there, kept in the transaction of each
change (`tally`) from pages named by `pages`, and read as a newsletter's top pages (`top`)."""
