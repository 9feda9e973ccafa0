use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idea_themes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub idea_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub theme_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::themes::Entity",
        from = "Column::ThemeId",
        to = "super::themes::Column::Id"
    )]
    Theme,
}

impl Related<super::themes::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Theme.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
