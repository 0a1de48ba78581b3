DROP TABLE django_blacklist;
