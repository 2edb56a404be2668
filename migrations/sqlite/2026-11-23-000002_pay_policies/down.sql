DROP TABLE policy_assignments;
DROP TABLE pay_policies;
