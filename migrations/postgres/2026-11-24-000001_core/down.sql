DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE posts;
DROP TABLE products;
DROP TABLE refresh_tokens;
DROP TABLE users;
