-- Reserved: filled in by the service that owns it.
select 1;
