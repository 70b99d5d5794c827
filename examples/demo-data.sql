-- Sample data for the sluice demo: a small shop.
SET ROLE shop_agent;
CREATE TABLE customers (
  id         serial PRIMARY KEY,
  name       text NOT NULL,
  email      text NOT NULL UNIQUE,
  phone      text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
  id          serial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id),
  total_cents int NOT NULL,
  status      text NOT NULL DEFAULT 'open',
  placed_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers (name, email, phone)
SELECT 'Customer ' || g, 'customer' || g || '@example.com', '+1-555-01' || lpad(g::text, 2, '0')
FROM generate_series(1, 50) g;
INSERT INTO orders (customer_id, total_cents, status)
SELECT 1 + (g % 50), 500 + (g * 137) % 20000, (ARRAY['open', 'paid', 'shipped'])[1 + g % 3]
FROM generate_series(1, 500) g;
