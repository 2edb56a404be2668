DROP TABLE responses;
DROP TABLE page_deliveries;
DROP TABLE pages;
DROP TABLE shifts;
DROP TABLE services;
DROP TABLE people;
DROP TABLE teams;
